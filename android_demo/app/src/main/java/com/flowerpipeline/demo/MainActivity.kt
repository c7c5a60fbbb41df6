package com.flowerpipeline.demo

import android.Manifest
import android.content.pm.PackageManager
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.Matrix
import android.net.Uri
import android.os.Bundle
import android.view.View
import android.widget.AdapterView
import android.widget.Button
import android.widget.ImageView
import android.widget.Spinner
import android.widget.TextView
import androidx.activity.ComponentActivity
import androidx.activity.result.contract.ActivityResultContracts
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import androidx.exifinterface.media.ExifInterface
import com.flowerpipeline.demo.core.Orientation
import com.flowerpipeline.demo.core.Outputs
import java.util.Locale
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/** Camera preview + live classification, a gallery photo on demand, a thread-count setting. */
class MainActivity : ComponentActivity() {
    // One executor owns the classifier: the interpreter must not be used from two threads.
    private val worker: ExecutorService = Executors.newSingleThreadExecutor()
    private var classifier: FlowerClassifier? = null
    @Volatile private var live = true
    private lateinit var preview: PreviewView
    private lateinit var photo: ImageView
    private lateinit var result: TextView

    private val askCamera = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) startCamera() else result.setText(R.string.no_camera)
    }
    private val pickPhoto = registerForActivityResult(ActivityResultContracts.GetContent()) { uri ->
        uri?.let(::classifyPhoto)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        preview = findViewById(R.id.preview)
        photo = findViewById(R.id.photo)
        result = findViewById(R.id.result)
        findViewById<Button>(R.id.gallery).setOnClickListener { pickPhoto.launch("image/*") }
        findViewById<Button>(R.id.camera).setOnClickListener { showCamera() }
        findViewById<Spinner>(R.id.threads).onItemSelectedListener = object : AdapterView.OnItemSelectedListener {
            override fun onItemSelected(parent: AdapterView<*>, view: View?, position: Int, id: Long) =
                loadClassifier(parent.getItemAtPosition(position).toString().toInt())
            override fun onNothingSelected(parent: AdapterView<*>) = Unit
        }
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            startCamera()
        } else {
            askCamera.launch(Manifest.permission.CAMERA)
        }
    }

    /** (Re)creates the interpreter with `threads` threads, on the worker. */
    private fun loadClassifier(threads: Int) = worker.execute {
        if (classifier?.threads == threads) return@execute
        classifier?.close()
        classifier = try {
            FlowerClassifier(this, threads)
        } catch (e: java.io.IOException) {
            runOnUiThread { result.setText(R.string.no_model) }
            null
        } catch (e: com.flowerpipeline.demo.core.JsonException) { // a model file without metadata
            runOnUiThread { result.text = getString(R.string.bad_model, e.message) }
            null
        } catch (e: IllegalArgumentException) { // labels that do not fit the model's outputs
            runOnUiThread { result.text = getString(R.string.bad_model, e.message) }
            null
        }
    }

    private fun startCamera() {
        val future = ProcessCameraProvider.getInstance(this)
        future.addListener({
            val provider = future.get()
            val previewCase = Preview.Builder().build().also { it.setSurfaceProvider(preview.surfaceProvider) }
            val analysis = ImageAnalysis.Builder()
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                .build()
            analysis.setAnalyzer(worker) { frame -> analyze(frame) }
            provider.unbindAll()
            provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, previewCase, analysis)
        }, ContextCompat.getMainExecutor(this))
    }

    /**
     * Runs on the worker; the frame is closed in all cases so the camera keeps delivering.
     * CameraX says how far the sensor's frame is turned (rotationDegrees); turning it by that
     * makes it upright, so camera frames need no EXIF (they have none).
     */
    private fun analyze(frame: ImageProxy) {
        frame.use {
            if (!live) return
            val upright = rotate(it.toBitmap(), it.imageInfo.rotationDegrees)
            show(upright)
        }
    }

    private fun classifyPhoto(uri: Uri) {
        live = false
        worker.execute {
            val bitmap = decodeUpright(uri) ?: return@execute runOnUiThread { result.text = "cannot decode $uri" }
            runOnUiThread {
                photo.setImageBitmap(bitmap)
                photo.visibility = View.VISIBLE
            }
            show(bitmap)
        }
    }

    /**
     * A gallery photo as a person sees it. BitmapFactory ignores the EXIF Orientation tag that
     * phones use for photos taken sideways; it is read here (ExifInterface, JPEG/PNG/WebP/HEIF)
     * and applied by core.Orientation exactly as Python's loader applies it (Pillow's
     * exif_transpose), so the model gets the pixels `pipeline predict` would give it.
     */
    private fun decodeUpright(uri: Uri): Bitmap? {
        val options = BitmapFactory.Options().apply { inPreferredConfig = Bitmap.Config.ARGB_8888 }
        val stored = contentResolver.openInputStream(uri)?.use { BitmapFactory.decodeStream(it, null, options) }
            ?: return null
        val orientation = try {
            contentResolver.openInputStream(uri)?.use {
                ExifInterface(it).getAttributeInt(ExifInterface.TAG_ORIENTATION, ExifInterface.ORIENTATION_NORMAL)
            } ?: Orientation.NORMAL
        } catch (e: java.io.IOException) {
            Orientation.NORMAL // no readable EXIF: the photo is shown as stored, as Pillow does
        }
        if (orientation == Orientation.NORMAL) return stored
        val pixels = IntArray(stored.width * stored.height)
        stored.getPixels(pixels, 0, stored.width, 0, 0, stored.width, stored.height)
        val upright = Orientation.upright(pixels, stored.width, stored.height, orientation)
        return Bitmap.createBitmap(upright.pixels, upright.width, upright.height, Bitmap.Config.ARGB_8888)
    }

    private fun showCamera() {
        photo.visibility = View.GONE
        live = true
    }

    /** Classify on the worker, then print type, colour, probabilities and timing. */
    private fun show(bitmap: Bitmap) {
        val model = classifier ?: return
        val c = model.classify(bitmap)
        val timing = String.format(Locale.ROOT, "%.1f ms  (%s, %d thread%s)", c.inferenceMs, c.variant,
                                   c.threads, if (c.threads == 1) "" else "s")
        val text = Outputs.describe(c.heads) + "\n" + timing
        runOnUiThread { result.text = text }
    }

    private fun rotate(bitmap: Bitmap, degrees: Int): Bitmap {
        if (degrees == 0) return bitmap
        val matrix = Matrix().apply { postRotate(degrees.toFloat()) }
        return Bitmap.createBitmap(bitmap, 0, 0, bitmap.width, bitmap.height, matrix, true)
    }

    override fun onDestroy() {
        super.onDestroy()
        worker.execute { classifier?.close(); classifier = null }
        worker.shutdown()
    }
}
