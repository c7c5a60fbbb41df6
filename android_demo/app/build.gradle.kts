plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "com.flowerpipeline.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "com.flowerpipeline.demo"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions {
        jvmTarget = "17"
    }

    // The interpreter memory-maps the model straight from the APK: it must stay uncompressed.
    androidResources {
        noCompress += "tflite"
    }

    testOptions {
        unitTests.all {
            // GoldenInputTest reads fixtures that `make test-clients` writes; without them it is
            // skipped here (Android Studio) and required there.
            it.systemProperty("golden.dir", System.getProperty("golden.dir") ?: "")
        }
    }
}

dependencies {
    implementation(libs.litert)
    implementation(libs.camera.core)
    implementation(libs.camera.camera2)
    implementation(libs.camera.lifecycle)
    implementation(libs.camera.view)
    implementation(libs.activity.ktx)
    implementation(libs.exifinterface)
    testImplementation(libs.junit)
}
